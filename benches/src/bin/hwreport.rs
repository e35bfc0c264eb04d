//! `make hwreport`: the RTL in clock cycles. Runs the LZ4 engines and the CacheAccelerator
//! top in Verilator over `../shared/corpus` (generated data when it is absent) and prints,
//! per file, bytes per cycle and ratio next to the lz4 C library at level 1, then the yosys
//! resource summary of each top (from `target/synth`, written by `make synth`), then each
//! engine's throughput: the narrow configuration's bytes per cycle × its Fmax on each ECP5
//! part (from `target/pnr`, written by `make pnr`), beside the software codec on this machine.
//! The same figures go to `target/hwreport.csv` and `target/hwreport.json`.
//!
//! Cycles are exact; no idle input and no backpressure, so they are the engines' own rates.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use lzcache_driver::device::sim::SimLink;
use lzcache_driver::device::{defs, DeviceCodec};
use lzcache_driver::device::{DeviceOptions, FaultPlan};
use lzcache_driver::{crc64, Job, JobStatus};
use lzcache_sim::axis::{frame_to_beats, run_frames};
use lzcache_sim::{Beat, Dut, Traffic};

struct Row {
    file: String,
    bytes: usize,
    lz4c_ratio: f64,
    rtl_ratio: f64,
    compress_bpc: f64,
    decompress_bpc: f64,
    top_compress_cycles: u64,
    top_decompress_cycles: u64,
}

fn inputs() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .filter_map(|e| {
                    let data = std::fs::read(e.path()).ok()?;
                    Some((e.file_name().to_string_lossy().into_owned(), data))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        eprintln!("../shared/corpus not present: generated text instead");
        files = vec![
            ("text-64k".into(), lzcache_benches::generated_text(1 << 16)),
            ("text-1m".into(), lzcache_benches::generated_text(1 << 20)),
        ];
    }
    files
}

/// Runs one frame through an engine model; returns the output bytes, last tuser and cycles.
fn run_engine(dut: &mut Dut, input: &[u8], user: u128) -> (Vec<u8>, u128, u64) {
    let mut beats: Vec<Beat> = frame_to_beats(input, dut.beat_bytes());
    beats[0].user = user;
    let run = run_frames(
        dut,
        beats,
        1,
        &Traffic::FULL_RATE,
        100 * input.len() as u64 + 10_000,
    );
    let mut out = Vec::new();
    let mut last = 0;
    for beat in &run.output {
        out.extend_from_slice(&beat.data[..beat.keep.count_ones() as usize]);
        last = beat.user;
    }
    (out, last, run.cycles)
}

fn main() {
    let mut compressor = Dut::new("lz4_compress_w512").expect("model");
    let mut decompressor = Dut::new("lz4_decompress_w512").expect("model");
    compressor.reset(4);
    decompressor.reset(4);
    // A simulated cycle takes microseconds: the deadline is for a real device, not the model.
    let patient = DeviceOptions {
        timeout: Some(std::time::Duration::from_secs(3600)),
        ..DeviceOptions::default()
    };
    let top = DeviceCodec::with_options(
        Box::new(SimLink::start(FaultPlan::none()).expect("simulator")),
        patient,
    )
    .expect("accelerator model");

    let mut rows = Vec::new();
    for (file, raw) in inputs() {
        let c_block = lz4::block::compress(&raw, Some(lz4::block::CompressionMode::DEFAULT), false)
            .expect("lz4 C");
        let (block, user, comp_cycles) = run_engine(&mut compressor, &raw, 0);
        let status = (user >> defs::LZ4C_DONE_STATUS_LSB) & 0xF;
        let stored = if status == u128::from(defs::LZ4C_OK) {
            block.len()
        } else {
            raw.len()
        };
        let flex_block = lz4_flex::block::compress(&raw);
        let expected = u128::from(raw.len() as u32) << 64 | u128::from(crc64::checksum(&raw));
        let (decoded, _, dec_cycles) = run_engine(&mut decompressor, &flex_block, expected);
        assert!(decoded == raw, "{file}: decompressor output differs");

        let (done, top_comp) = top
            .run_timed(Job::compress(1, raw.clone()))
            .expect("result");
        assert!(matches!(
            done.status,
            JobStatus::Ok | JobStatus::Incompressible
        ));
        let (done, top_dec) = top
            .run_timed(Job::decompress(
                2,
                flex_block.clone(),
                raw.len(),
                crc64::checksum(&raw),
            ))
            .expect("result");
        assert!(done.output == raw, "{file}: accelerator output differs");
        rows.push(Row {
            file,
            bytes: raw.len(),
            lz4c_ratio: raw.len() as f64 / c_block.len() as f64,
            rtl_ratio: raw.len() as f64 / stored as f64,
            compress_bpc: raw.len() as f64 / comp_cycles as f64,
            decompress_bpc: raw.len() as f64 / dec_cycles as f64,
            top_compress_cycles: top_comp.unwrap_or(0),
            top_decompress_cycles: top_dec.unwrap_or(0),
        });
        let r = rows.last().unwrap();
        eprintln!("{}: done ({} bytes)", r.file, r.bytes);
    }

    let mut table = String::new();
    writeln!(
        table,
        "{:<16} {:>9} {:>8} {:>8} {:>10} {:>10} {:>12} {:>12}",
        "file", "bytes", "lz4 C", "RTL", "comp B/c", "dec B/c", "top comp c", "top dec c"
    )
    .unwrap();
    let mut csv = String::from(
        "file,bytes,lz4c_ratio,rtl_ratio,compress_bytes_per_cycle,decompress_bytes_per_cycle,top_compress_cycles,top_decompress_cycles\n",
    );
    let mut json_rows = Vec::new();
    for r in &rows {
        writeln!(
            table,
            "{:<16} {:>9} {:>8.3} {:>8.3} {:>10.3} {:>10.2} {:>12} {:>12}",
            r.file,
            r.bytes,
            r.lz4c_ratio,
            r.rtl_ratio,
            r.compress_bpc,
            r.decompress_bpc,
            r.top_compress_cycles,
            r.top_decompress_cycles
        )
        .unwrap();
        writeln!(
            csv,
            "{},{},{:.4},{:.4},{:.4},{:.4},{},{}",
            r.file,
            r.bytes,
            r.lz4c_ratio,
            r.rtl_ratio,
            r.compress_bpc,
            r.decompress_bpc,
            r.top_compress_cycles,
            r.top_decompress_cycles
        )
        .unwrap();
        json_rows.push(format!(
            "{{\"file\":{:?},\"bytes\":{},\"lz4c_ratio\":{:.4},\"rtl_ratio\":{:.4},\"compress_bytes_per_cycle\":{:.4},\"decompress_bytes_per_cycle\":{:.4},\"top_compress_cycles\":{},\"top_decompress_cycles\":{}}}",
            r.file, r.bytes, r.lz4c_ratio, r.rtl_ratio, r.compress_bpc, r.decompress_bpc,
            r.top_compress_cycles, r.top_decompress_cycles
        ));
    }
    let total: usize = rows.iter().map(|r| r.bytes).sum();
    let c_total: f64 = rows.iter().map(|r| r.bytes as f64 / r.lz4c_ratio).sum();
    let rtl_total: f64 = rows.iter().map(|r| r.bytes as f64 / r.rtl_ratio).sum();
    let comp_cycles: f64 = rows.iter().map(|r| r.bytes as f64 / r.compress_bpc).sum();
    let dec_cycles: f64 = rows.iter().map(|r| r.bytes as f64 / r.decompress_bpc).sum();
    writeln!(
        table,
        "{:<16} {:>9} {:>8.3} {:>8.3} {:>10.3} {:>10.2}",
        "all",
        total,
        total as f64 / c_total,
        total as f64 / rtl_total,
        total as f64 / comp_cycles,
        total as f64 / dec_cycles
    )
    .unwrap();

    let resources = resources();
    writeln!(
        table,
        "\n{:<24} {:>8} {:>8} {:>7} {:>5} {:>6}",
        "module", "LUT", "FF", "BRAM36", "DSP", "depth"
    )
    .unwrap();
    let mut json_resources = Vec::new();
    for (top, r) in &resources {
        writeln!(
            table,
            "{:<24} {:>8} {:>8} {:>7} {:>5} {:>6}",
            top, r[0], r[1], r[2], r[3], r[4]
        )
        .unwrap();
        json_resources.push(format!(
            "{{\"module\":{top:?},\"lut\":{},\"ff\":{},\"bram36\":{},\"dsp\":{},\"depth\":{}}}",
            r[0], r[1], r[2], r[3], r[4]
        ));
    }
    if resources.is_empty() {
        writeln!(table, "(no target/synth/*.stat: run `make synth` first)").unwrap();
    }

    let corpus: Vec<Vec<u8>> = inputs().into_iter().map(|(_, raw)| raw).collect();
    let json_throughput = throughput(&corpus, &mut table);
    print!("{table}");

    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target");
    std::fs::write(target.join("hwreport.csv"), csv).expect("write csv");
    std::fs::write(
        target.join("hwreport.json"),
        format!(
            "{{\"files\":[{}],\"resources\":[{}],\"throughput\":[{}]}}\n",
            json_rows.join(","),
            json_resources.join(","),
            json_throughput.join(",")
        ),
    )
    .expect("write json");
    eprintln!("written: target/hwreport.csv, target/hwreport.json");
}

/// Place-and-route results from `make pnr` (`target/pnr/summary.tsv`): module, device, Fmax.
fn pnr_fmax() -> Vec<(String, String, f64)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/pnr/summary.tsv");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let fmax = fields.get(3)?.parse().ok()?;
            Some((fields[0].to_string(), fields.get(2)?.to_string(), fmax))
        })
        .collect()
}

/// Raw bytes per cycle of one engine model over `corpus`, one value at a time at full rate
/// (so each value's pipeline latency counts); a decompressor is fed lz4_flex blocks.
fn engine_bytes_per_cycle(model: &str, corpus: &[Vec<u8>], decompress: bool) -> f64 {
    let mut dut = Dut::new(model).expect("model");
    dut.reset(4);
    let (mut bytes, mut cycles) = (0u64, 0u64);
    for raw in corpus {
        let (frame, user) = if decompress {
            let expected = u128::from(raw.len() as u32) << 64 | u128::from(crc64::checksum(raw));
            (lz4_flex::block::compress(raw), expected)
        } else {
            (raw.clone(), 0)
        };
        let (_, _, c) = run_engine(&mut dut, &frame, user);
        bytes += raw.len() as u64;
        cycles += c;
    }
    bytes as f64 / cycles as f64
}

/// Best-of-three MB/s of `f` over `corpus` on this machine (one core).
fn software_mb_per_s(corpus: &[Vec<u8>], mut f: impl FnMut(&[u8])) -> f64 {
    let bytes: usize = corpus.iter().map(Vec::len).sum();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = std::time::Instant::now();
        for raw in corpus {
            f(raw);
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    bytes as f64 / best / 1e6
}

/// Throughput = bytes per cycle (the narrow configurations that `make pnr` places, over the
/// corpus) × Fmax (from place and route), per engine and part, beside the software codec on
/// one core of this machine. Appends a table to `table`; returns the JSON rows.
fn throughput(corpus: &[Vec<u8>], table: &mut String) -> Vec<String> {
    let fmax = pnr_fmax();
    let blocks: Vec<Vec<u8>> = corpus
        .iter()
        .map(|r| lz4_flex::block::compress(r))
        .collect();
    let engines = [
        (
            "lz4_compress",
            engine_bytes_per_cycle("lz4_compress_small", corpus, false),
            software_mb_per_s(corpus, |raw| {
                std::hint::black_box(lz4_flex::block::compress(raw));
            }),
        ),
        (
            "lz4_decompress",
            engine_bytes_per_cycle("lz4_decompress_w64", corpus, true),
            {
                let mut i = 0;
                let sizes: Vec<usize> = corpus.iter().map(Vec::len).collect();
                software_mb_per_s(corpus, |_| {
                    let n = i % blocks.len();
                    i += 1;
                    std::hint::black_box(
                        lz4_flex::block::decompress(&blocks[n], sizes[n]).expect("decodes"),
                    );
                })
            },
        ),
        (
            "crc64_nvme",
            engine_bytes_per_cycle("crc64_nvme_w64", corpus, false),
            software_mb_per_s(corpus, |raw| {
                std::hint::black_box(crc64::checksum(raw));
            }),
        ),
    ];
    writeln!(
        table,
        "\nthroughput (narrow configuration: bytes/cycle over the corpus × Fmax from `make pnr`; \
         software: one core of this machine)\n{:<16} {:>8} {:<16} {:>9} {:>9} {:>12} {:>9}",
        "engine", "B/cycle", "part", "Fmax MHz", "MB/s", "software MB/s", "ratio"
    )
    .unwrap();
    let mut json = Vec::new();
    for (engine, bpc, sw) in engines {
        let parts: Vec<&(String, String, f64)> =
            fmax.iter().filter(|(m, _, _)| m == engine).collect();
        if parts.is_empty() {
            writeln!(
                table,
                "{engine:<16} {bpc:>8.3} (no target/pnr/summary.tsv: run `make pnr`)"
            )
            .unwrap();
        }
        for (_, device, mhz) in parts {
            let mb_s = bpc * mhz;
            writeln!(
                table,
                "{engine:<16} {bpc:>8.3} {device:<16} {mhz:>9.1} {mb_s:>9.0} {sw:>12.0} {:>9.3}",
                mb_s / sw
            )
            .unwrap();
            json.push(format!(
                "{{\"engine\":{engine:?},\"bytes_per_cycle\":{bpc:.4},\"device\":{device:?},\"fmax_mhz\":{mhz},\"mb_per_s\":{mb_s:.1},\"software_mb_per_s\":{sw:.1}}}"
            ));
        }
    }
    json
}

/// Per synthesized top: LUT, FF, BRAM36, DSP, longest path — read as `rtl/resources.sh` does.
fn resources() -> Vec<(String, [String; 5])> {
    let build = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/synth");
    let mut stats: Vec<PathBuf> = std::fs::read_dir(&build)
        .map(|e| e.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    stats.retain(|p| p.extension().is_some_and(|e| e == "stat"));
    stats.sort();
    stats
        .into_iter()
        .filter_map(|path| {
            let top = path.file_stem()?.to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).ok()?;
            // The last `Number of cells` section is the whole design.
            let last = text.rsplit("Number of cells").next()?;
            let mut counts = [0f64; 4];
            for line in last.lines() {
                let mut words = line.split_whitespace();
                let (Some(cell), Some(n)) = (words.next(), words.next()) else {
                    continue;
                };
                let Ok(n) = n.parse::<f64>() else { continue };
                if cell.starts_with("LUT") && cell.len() == 4 {
                    counts[0] += n;
                } else if cell.starts_with("FD") {
                    counts[1] += n;
                } else if cell.starts_with("RAMB36") {
                    counts[2] += n;
                } else if cell.starts_with("RAMB18") {
                    counts[2] += n / 2.0;
                } else if cell.starts_with("DSP48") {
                    counts[3] += n;
                }
            }
            let ltp = std::fs::read_to_string(path.with_extension("ltp")).unwrap_or_default();
            let depth = ltp
                .split("length=")
                .skip(1)
                .filter_map(|s| {
                    s.split(|c: char| !c.is_ascii_digit())
                        .next()?
                        .parse::<u64>()
                        .ok()
                })
                .max()
                .map(|d| d.to_string())
                .unwrap_or_else(|| "?".into());
            Some((
                top,
                [
                    counts[0].to_string(),
                    counts[1].to_string(),
                    counts[2].to_string(),
                    counts[3].to_string(),
                    depth,
                ],
            ))
        })
        .collect()
}
