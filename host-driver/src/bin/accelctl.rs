//! accelctl: look at, test and benchmark a CacheAccelerator (or the software codec), and
//! compress, decompress or checksum stdin through it.

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use lzcache_driver::device::{self, defs, DeviceCodec, DeviceOptions, DeviceSpec};
use lzcache_driver::{crc64, Completion, Job, JobStatus, SoftwareCodec};

/// `println!` that stops quietly when stdout is closed (`accelctl regs | head`).
macro_rules! say {
    ($($arg:tt)*) => {{
        if writeln!(io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

#[derive(Parser)]
#[command(
    version,
    about = "Inspect, test and benchmark an lzcache CacheAccelerator"
)]
struct Cli {
    /// auto (the first card, else software), software, sim (the Verilated device, when
    /// built with the `sim` feature), xdma:<N> (a card) or udp:HOST[:PORT] (a board behind
    /// Ethernet; port 7440 when omitted)
    #[arg(long, global = true, default_value = "auto")]
    device: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Devices present, with ID, version and capabilities
    List,
    /// Dump the device's registers
    Regs,
    /// Fixed vectors and generated data through the device, compared with software
    Selftest,
    /// Per file (generated data when none): bytes, ratio, MB/s, and cycles for `sim`
    Bench { files: Vec<std::path::PathBuf> },
    /// Compress stdin into one LZ4 block on stdout (CRC-64 of the input on stderr)
    Compress,
    /// Decompress one LZ4 block from stdin to stdout
    Decompress {
        /// Size of the raw value in bytes
        #[arg(long)]
        raw_size: usize,
        /// Expected CRC-64/NVME of the raw value (hex); checked when given
        #[arg(long, value_parser = parse_hex)]
        crc: Option<u64>,
    },
    /// CRC-64/NVME of stdin, in hex
    Crc,
    /// Serve the verilated board core (UDP bridge + 64-bit accelerator) on a UDP socket, as a
    /// board would, until killed (built with the `sim` feature)
    BoardSim {
        /// Address to listen on (port 0: any; the address taken is printed)
        #[arg(long, default_value = "127.0.0.1:7440")]
        listen: std::net::SocketAddr,
        /// Network faults, e.g. loss=0.05,dup=0.02,reorder=0.05,idle=20,stall=20,seed=3
        #[arg(long, default_value = "")]
        faults: String,
    },
}

fn parse_hex(s: &str) -> Result<u64, String> {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| e.to_string())
}

enum Backend {
    Software(SoftwareCodec),
    Device(Box<DeviceCodec>),
}

impl Backend {
    /// Opens what `--device` names. `auto` never picks the simulator: it must be asked for.
    fn open(name: &str) -> Result<Self, String> {
        let spec: DeviceSpec = match name {
            "software" => return Ok(Self::Software(SoftwareCodec::new())),
            "auto" => match device::xdma::cards().first() {
                Some(&n) => DeviceSpec::Xdma(n),
                None => {
                    eprintln!("accelctl: no device found; using the software codec");
                    return Ok(Self::Software(SoftwareCodec::new()));
                }
            },
            other => other.parse().map_err(|e| format!("{e}"))?,
        };
        device::open(&spec, DeviceOptions::default())
            .map(|d| Self::Device(Box::new(d)))
            .map_err(|e| e.to_string())
    }

    fn device(&self) -> Result<&DeviceCodec, String> {
        match self {
            Self::Device(d) => Ok(d),
            Self::Software(_) => Err("the software codec has no registers".into()),
        }
    }

    /// Runs a job; the cycles it took when the device counts them.
    fn run(&self, job: Job) -> Result<(Completion, Option<u64>), String> {
        match self {
            Self::Software(c) => Ok((c.execute(&job), None)),
            Self::Device(d) => d.run_timed(job).map_err(|e| e.to_string()),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::List => list(),
        Command::BoardSim { listen, faults } => board_sim(listen, &faults),
        command => Backend::open(&cli.device).and_then(|backend| run(&backend, command)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("accelctl: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(backend: &Backend, command: Command) -> Result<(), String> {
    match command {
        Command::List | Command::BoardSim { .. } => {
            unreachable!("handled before a device is opened")
        }
        Command::Regs => regs(backend.device()?),
        Command::Selftest => selftest(backend),
        Command::Bench { files } => bench(backend, &files),
        Command::Compress => {
            let input = stdin()?;
            let (done, _) = backend.run(Job::compress(0, input))?;
            eprintln!("crc64 {:016x}", done.crc64);
            match done.status {
                JobStatus::Ok => write_stdout(&done.output),
                JobStatus::Incompressible if !done.output.is_empty() => {
                    eprintln!("incompressible: the block is not smaller than the input");
                    write_stdout(&done.output)
                }
                status => Err(format!(
                    "compress: {status:?} (no block: store the value raw)"
                )),
            }
        }
        Command::Decompress { raw_size, crc } => {
            let input = stdin()?;
            let (done, _) = backend.run(Job::decompress(0, input, raw_size, crc.unwrap_or(0)))?;
            if done.status != JobStatus::Ok {
                return Err(format!("decompress: {:?}", done.status));
            }
            if crc.is_some() && !done.crc_valid {
                return Err(format!(
                    "decompress: CRC {:016x} differs from the expected one",
                    done.crc64
                ));
            }
            eprintln!("crc64 {:016x}", done.crc64);
            write_stdout(&done.output)
        }
        Command::Crc => {
            let input = stdin()?;
            let (done, _) = backend.run(Job::checksum(0, input))?;
            say!("{:016x}", done.crc64);
            Ok(())
        }
    }
}

fn stdin() -> Result<Vec<u8>, String> {
    let mut input = Vec::new();
    io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| format!("stdin: {e}"))?;
    Ok(input)
}

fn write_stdout(bytes: &[u8]) -> Result<(), String> {
    io::stdout()
        .write_all(bytes)
        .map_err(|e| format!("stdout: {e}"))
}

fn print_info(info: &device::DeviceInfo) {
    say!(
        "{:<8} id {:#010x} version {}  compress engines {}  decompress engines {}  \
         {}-byte beats  history {} B  max job {} B  dictionaries {} B (compress {} B)",
        info.name,
        info.id,
        info.version_string(),
        info.compress_engines,
        info.decompress_engines,
        info.beat_bytes,
        info.history,
        info.max_job,
        info.dict_size,
        info.compress_dict_size
    );
}

fn list() -> Result<(), String> {
    say!("software  lz4_flex + crc-fast (always present)");
    let mut specs = Vec::new();
    if cfg!(feature = "sim") {
        specs.push(DeviceSpec::Sim(device::FaultPlan::none()));
    }
    specs.extend(device::xdma::cards().into_iter().map(DeviceSpec::Xdma));
    for spec in specs {
        match device::open(&spec, DeviceOptions::default()) {
            Ok(dev) => print_info(dev.info()),
            Err(e) => say!("{e}"),
        }
    }
    if device::xdma::cards().is_empty() {
        say!("(no XDMA card: /dev/xdma*_user not found)");
    }
    Ok(())
}

fn regs(dev: &DeviceCodec) -> Result<(), String> {
    print_info(dev.info());
    for (name, offset, what) in defs::REGISTERS {
        let value = dev
            .read_reg(u32::from(*offset))
            .map_err(|e| format!("{name}: {e}"))?;
        say!("{offset:#05x} {name:<20} {value:#010x} {value:>12}  {what}");
    }
    if dev.info().name.starts_with("udp:") {
        for (name, offset, what) in BRIDGE_REGISTERS {
            let value = dev
                .read_reg(u32::from(offset))
                .map_err(|e| format!("{name}: {e}"))?;
            say!("{offset:#06x} {name:<20} {value:#010x} {value:>12}  {what}");
        }
    }
    Ok(())
}

/// The UDP bridge's own counters (a board's, answered over the same link).
const BRIDGE_REGISTERS: [(&str, u16, &str); 5] = [
    (
        "BRIDGE_DATAGRAMS",
        defs::BRIDGE_REG_DATAGRAMS,
        "datagrams received",
    ),
    (
        "BRIDGE_DROPPED",
        defs::BRIDGE_REG_DROPPED,
        "datagrams dropped (bad, late, repeated)",
    ),
    (
        "BRIDGE_ABANDONED",
        defs::BRIDGE_REG_ABANDONED,
        "partial jobs abandoned",
    ),
    (
        "BRIDGE_JOBS",
        defs::BRIDGE_REG_JOBS,
        "jobs passed to the accelerator",
    ),
    ("BRIDGE_RESULTS", defs::BRIDGE_REG_RESULTS, "results sent"),
];

#[cfg(feature = "sim")]
fn board_sim(listen: std::net::SocketAddr, faults: &str) -> Result<(), String> {
    use lzcache_driver::device::board_sim::{BoardSim, NetFaults};
    let faults = NetFaults::parse(faults).map_err(|e| format!("--faults: {e}"))?;
    let board = BoardSim::start(listen, faults).map_err(|e| format!("board-sim: {e}"))?;
    say!("board-sim listening on {}", board.addr());
    // Until killed: the board's thread does the work.
    loop {
        std::thread::park();
    }
}

#[cfg(not(feature = "sim"))]
fn board_sim(_: std::net::SocketAddr, _: &str) -> Result<(), String> {
    Err("board-sim: built without the `sim` feature (the Verilated model)".into())
}

/// Deterministic test data: text-like, JSON-like, runs, and noise.
fn generated() -> Vec<(String, Vec<u8>)> {
    let words = [
        "cache", "value", "lz4", "the", "block", "server", "of", "memory",
    ];
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut text = Vec::new();
    while text.len() < 65_536 {
        text.extend_from_slice(words[(next() % words.len() as u64) as usize].as_bytes());
        text.push(b' ');
    }
    let mut json = Vec::new();
    for i in 0..600 {
        json.extend_from_slice(
            format!(
                "{{\"id\":{i},\"name\":\"user{}\",\"score\":{}}},",
                next() % 1000,
                next() % 97
            )
            .as_bytes(),
        );
    }
    let noise: Vec<u8> = (0..4096).map(|_| next() as u8).collect();
    vec![
        ("text-1k".into(), text[..1024].to_vec()),
        ("text-16k".into(), text[..16_384].to_vec()),
        ("json-8k".into(), json[..8192].to_vec()),
        ("text-64k".into(), text[..65_536].to_vec()),
        ("json".into(), json),
        ("zeros-100k".into(), vec![0; 100_000]),
        ("noise-4k".into(), noise),
    ]
}

fn selftest(backend: &Backend) -> Result<(), String> {
    let sw = SoftwareCodec::new();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("check-value".into(), b"123456789".to_vec()),
        ("one-byte".into(), b"x".to_vec()),
    ];
    cases.extend(generated());
    let mut failures = 0;
    let mut check = |what: String, ok: bool| {
        say!("{} {what}", if ok { "ok  " } else { "FAIL" });
        failures += usize::from(!ok);
    };
    check(
        "checksum of \"123456789\" is the CRC-64/NVME check value".into(),
        backend
            .run(Job::checksum(1, b"123456789".to_vec()))?
            .0
            .crc64
            == crc64::CHECK_VALUE,
    );
    let max_job = match backend {
        Backend::Device(d) => d.info().max_job as usize,
        Backend::Software(_) => usize::MAX,
    };
    for (name, raw) in &cases {
        if raw.len() > max_job {
            say!(
                "skip {name}: {} bytes, over the device's {max_job}-byte jobs (software's)",
                raw.len()
            );
            continue;
        }
        let crc = crc64::checksum(raw);
        let (done, _) = backend.run(Job::checksum(2, raw.clone()))?;
        check(format!("checksum   {name}"), done.crc64 == crc);

        let (done, _) = backend.run(Job::compress(3, raw.clone()))?;
        let round_trip = match done.status {
            JobStatus::Ok | JobStatus::Incompressible if !done.output.is_empty() => {
                lz4_flex::block::decompress(&done.output, raw.len())
                    .ok()
                    .as_ref()
                    == Some(raw)
            }
            JobStatus::Incompressible => true,
            _ => false,
        };
        check(
            format!(
                "compress   {name} ({:?}, {} -> {} bytes)",
                done.status,
                raw.len(),
                done.output.len()
            ),
            round_trip && done.crc64 == crc,
        );

        let block = sw.execute(&Job::compress(4, raw.clone())).output;
        let (done, _) = backend.run(Job::decompress(5, block, raw.len(), crc))?;
        check(
            format!("decompress {name}"),
            done.status == JobStatus::Ok && done.crc_valid && done.output == raw[..],
        );
    }
    let (done, _) = backend.run(Job::decompress(6, vec![0x04, 0x01, 0x00], 100, 0))?;
    check(
        format!("malformed block refused ({:?})", done.status),
        done.status != JobStatus::Ok,
    );
    if failures == 0 {
        say!("selftest passed");
        Ok(())
    } else {
        Err(format!("selftest: {failures} checks failed"))
    }
}

fn bench(backend: &Backend, files: &[std::path::PathBuf]) -> Result<(), String> {
    let inputs: Vec<(String, Vec<u8>)> = if files.is_empty() {
        generated()
    } else {
        files
            .iter()
            .map(|f| {
                std::fs::read(f)
                    .map(|data| (f.display().to_string(), data))
                    .map_err(|e| format!("{}: {e}", f.display()))
            })
            .collect::<Result<_, _>>()?
    };
    say!(
        "{:<28} {:>9} {:>7} {:>10} {:>10} {:>11} {:>8} {:>11} {:>8}",
        "input",
        "bytes",
        "ratio",
        "comp MB/s",
        "dec MB/s",
        "comp cyc",
        "B/cyc",
        "dec cyc",
        "B/cyc"
    );
    for (name, raw) in inputs {
        let start = Instant::now();
        let (comp, comp_cycles) = backend.run(Job::compress(1, raw.clone()))?;
        let comp_time = start.elapsed();
        let block = if comp.status == JobStatus::Ok {
            comp.output.clone()
        } else {
            lz4_flex::block::compress(&raw).into()
        };
        let start = Instant::now();
        let (dec, dec_cycles) = backend.run(Job::decompress(
            2,
            block.clone(),
            raw.len(),
            crc64::checksum(&raw),
        ))?;
        let dec_time = start.elapsed();
        if dec.output != raw[..] {
            return Err(format!("{name}: decompressed bytes differ"));
        }
        let mbps = |t: Duration| raw.len() as f64 / t.as_secs_f64() / 1e6;
        let per_cycle = |c: Option<u64>| {
            c.map(|c| (c.to_string(), format!("{:.2}", raw.len() as f64 / c as f64)))
                .unwrap_or(("-".into(), "-".into()))
        };
        let (cc, cb) = per_cycle(comp_cycles);
        let (dc, db) = per_cycle(dec_cycles);
        say!(
            "{:<28} {:>9} {:>7.3} {:>10.1} {:>10.1} {:>11} {:>8} {:>11} {:>8}",
            name,
            raw.len(),
            if comp.status == JobStatus::Ok {
                raw.len() as f64 / comp.output.len().max(1) as f64
            } else {
                1.0
            },
            mbps(comp_time),
            mbps(dec_time),
            cc,
            cb,
            dc,
            db
        );
    }
    Ok(())
}
