//! The board path without a board: the verilated board core (UDP job bridge + 64-bit
//! accelerator, `rtl/board_core.v`) behind a real UDP socket on the loopback interface, driven
//! through the `udp` device link — `accelctl` as a user runs it, a lossy network under the
//! dispatcher, datagrams the bridge must refuse, and the cycles a job takes.
#![cfg(feature = "sim")]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use lzcache_driver::device::board_sim::{BoardSim, BoardStats, NetFaults};
use lzcache_driver::device::defs::*;
use lzcache_driver::device::udp::datagram::{self, Header};
use lzcache_driver::device::udp::UdpLink;
use lzcache_driver::device::{DeviceCodec, DeviceOptions};
use lzcache_driver::{
    crc64, Codec, DispatchConfig, Dispatcher, Job, JobStatus, Prefer, SoftwareCodec,
};

fn text(len: usize, seed: u64) -> Vec<u8> {
    let words = [
        "cache", "value", "lz4", "board", "block", "udp", "of", "memory", "key", "{\"id\":",
    ];
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::new();
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if x.is_multiple_of(7) {
            out.extend_from_slice(&x.to_le_bytes()[..3]);
        }
        out.extend_from_slice(words[(x % words.len() as u64) as usize].as_bytes());
        out.push(b' ');
    }
    out.truncate(len);
    out
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// `accelctl board-sim` as a process, killed when dropped.
struct BoardProcess(Child, String);

impl BoardProcess {
    fn start() -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_accelctl"))
            .args(["board-sim", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("accelctl runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("board-sim listening on ")
            .unwrap_or_else(|| panic!("board-sim said {line:?}"))
            .to_string();
        Self(child, addr)
    }
}

impl Drop for BoardProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn accelctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_accelctl"))
        .args(args)
        .output()
        .expect("accelctl runs")
}

fn text_of(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn accelctl_selftest_and_regs_over_udp() {
    let board = BoardProcess::start();
    let device = format!("udp:{}", board.1);
    let out = accelctl(&["--device", &device, "selftest"]);
    let said = text_of(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("selftest passed"), "{said}");
    assert!(!said.contains("FAIL"), "{said}");
    assert!(
        said.contains("ok   decompress text-16k"),
        "a job of the board's largest size, in 12 fragments: {said}"
    );

    let out = accelctl(&["--device", &device, "regs"]);
    let said = text_of(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("max job 16384 B"), "{said}");
    let jobs = said
        .lines()
        .find(|l| l.contains("BRIDGE_JOBS"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no BRIDGE_JOBS in {said}"));
    assert!(
        jobs >= 20,
        "the selftest's jobs went through the bridge: {jobs}"
    );
}

/// A network that loses, repeats and reorders datagrams both ways, with random idle cycles
/// and backpressure on the core's streams: every answer the dispatcher gives is right, and
/// every job the network broke was redone in software and counted as a device timeout.
#[test]
fn a_lossy_network_costs_jobs_never_answers() {
    let faults =
        NetFaults::parse("loss=0.03,dup=0.03,reorder=0.05,idle=20,stall=20,seed=11").unwrap();
    let board = BoardSim::start(loopback(), faults).unwrap();
    let link = UdpLink::open(&board.addr().to_string()).unwrap();
    let options = DeviceOptions {
        timeout: Some(Duration::from_millis(400)),
        ..DeviceOptions::default()
    };
    let device = Arc::new(DeviceCodec::with_options(Box::new(link), options).unwrap());
    let codec = Dispatcher::new(
        Some(device.clone()),
        DispatchConfig {
            prefer: Prefer::Device,
            verify: 1.0,
            // The breaker probes again at once: software is so much faster than the
            // simulated board that any back-off would send the rest of the run to software.
            backoff: Duration::ZERO,
        },
    );
    let sw = SoftwareCodec::new();
    let jobs = 150u64;
    for i in 0..jobs {
        let len = [0, 1, 100, 1500, 2900, 7000, 16_384][(i % 7) as usize] + (i as usize % 5);
        let raw = text(len.min(16_384), i);
        let crc = crc64::checksum(&raw);
        match i % 3 {
            0 => {
                let done = codec.run(Job::checksum(i, raw.clone())).unwrap();
                assert_eq!(done.crc64, crc, "job {i}");
            }
            1 => {
                let done = codec.run(Job::compress(i, raw.clone())).unwrap();
                assert_eq!(done.crc64, crc, "job {i}");
                if done.status == JobStatus::Ok {
                    let back = lz4_flex::block::decompress(&done.output, raw.len()).unwrap();
                    assert_eq!(back, raw, "job {i}");
                } else {
                    assert_eq!(done.status, JobStatus::Incompressible, "job {i}");
                }
            }
            _ => {
                let block = sw.run(Job::compress(i, raw.clone())).unwrap();
                let block = if block.status == JobStatus::Ok {
                    block.output
                } else {
                    lz4_flex::block::compress(&raw).into()
                };
                let done = codec
                    .run(Job::decompress(i, block, raw.len(), crc))
                    .unwrap();
                assert_eq!(done.status, JobStatus::Ok, "job {i}");
                assert!(done.crc_valid, "job {i}");
                assert_eq!(done.output, raw, "job {i}");
            }
        }
    }
    let stats: std::collections::HashMap<String, String> = codec.stats().into_iter().collect();
    let stat = |name: &str| -> u64 { stats[name].parse().unwrap() };
    let board_stats = board.stats();
    let lost = BoardStats::get(&board_stats.lost);
    let reordered = BoardStats::get(&board_stats.reordered);
    let duplicated = BoardStats::get(&board_stats.duplicated);
    eprintln!(
        "lossy network: {jobs} jobs; datagrams lost {lost}, repeated {duplicated}, reordered \
         {reordered}; device jobs {}, timeouts {}, software jobs {}, fallbacks {}",
        stat("lz_dev_jobs"),
        stat("lz_dev_timeouts"),
        stat("lz_sw_jobs"),
        stat("lz_dev_fallbacks")
    );
    assert!(
        lost > 0 && duplicated > 0 && reordered > 0,
        "faults were injected"
    );
    assert!(stat("lz_dev_timeouts") > 0, "lost datagrams cost jobs");
    assert!(
        stat("lz_sw_jobs") >= stat("lz_dev_timeouts"),
        "every timed-out job was redone in software"
    );
    assert!(stat("lz_dev_jobs") > jobs / 2, "most jobs ran on the board");
    // The bridge saw the damage too: jobs whose fragments went missing or came out of order.
    let abandoned = device.read_reg(u32::from(BRIDGE_REG_ABANDONED)).unwrap();
    let dropped = device.read_reg(u32::from(BRIDGE_REG_DROPPED)).unwrap();
    assert!(abandoned + dropped > 0);
}

/// Sends raw datagrams at the board and reads its counters back the same way.
struct RawHost {
    socket: UdpSocket,
    board: SocketAddr,
    reply: std::net::SocketAddrV4,
}

impl RawHost {
    fn new(board: SocketAddr) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let SocketAddr::V4(reply) = socket.local_addr().unwrap() else {
            unreachable!()
        };
        Self {
            socket,
            board,
            reply,
        }
    }

    fn header(&self, kind: u8, tag: u32, seq: u16, len: u16, total: u32) -> Header {
        Header {
            kind,
            tag,
            seq,
            len,
            total,
            reply: self.reply,
        }
    }

    fn send(&self, header: Header, data: &[u8]) {
        let mut bytes = Vec::new();
        header.encode(&mut bytes);
        datagram::push_padded(&mut bytes, data);
        self.socket.send_to(&bytes, self.board).unwrap();
    }

    /// The next datagram from the board, if one comes within the read timeout.
    fn receive(&self) -> Option<(Header, Vec<u8>)> {
        let mut buffer = vec![0; 2048];
        let (len, _) = self.socket.recv_from(&mut buffer).ok()?;
        let header = Header::decode(&buffer[..len]).expect("the board's header");
        let data = datagram::data(&header, &buffer[..len]).unwrap().to_vec();
        Some((header, data))
    }

    fn read(&self, offset: u16) -> u32 {
        self.send(
            self.header(UDP_KIND_REG_READ, 77, 0, 0, u32::from(offset)),
            &[],
        );
        let (header, data) = self.receive().expect("a register answer");
        assert_eq!(
            (header.kind, header.tag, header.total),
            (UDP_KIND_REG_VALUE, 77, u32::from(offset))
        );
        u32::from_le_bytes(data.try_into().unwrap())
    }
}

/// A checksum job frame (header + payload) for `raw`.
fn checksum_frame(tag: u32, raw: &[u8]) -> Vec<u8> {
    use lzcache_driver::device::protocol::{job_frame, JobHeader};
    let header = JobHeader::for_op(&lzcache_driver::JobOp::Checksum, tag, raw.len());
    job_frame(&header, raw)
}

#[test]
fn the_bridge_refuses_what_is_not_a_whole_job_and_answers_the_rest() {
    let board = BoardSim::start(loopback(), NetFaults::parse("idle=30,stall=30").unwrap()).unwrap();
    let host = RawHost::new(board.addr());
    assert_eq!(host.read(REG_ID), ACCEL_ID);
    let raw = text(3000, 5);
    let frame = checksum_frame(13, &raw);
    let total = frame.len() as u32;
    let fragments: Vec<&[u8]> = frame.chunks(datagram::FRAGMENT).collect();
    assert_eq!(fragments.len(), 3);
    let send = |tag: u32, seq: usize| {
        host.send(
            host.header(
                UDP_KIND_JOB,
                tag,
                seq as u16,
                fragments[seq].len() as u16,
                total,
            ),
            fragments[seq],
        )
    };

    // Not ours, too short, an unknown kind: dropped.
    host.socket
        .send_to(b"GET / HTTP/1.0\r\n\r\n", board.addr())
        .unwrap();
    host.socket
        .send_to(&[0x4C, 0x55, 1, 0], board.addr())
        .unwrap();
    host.send(host.header(0x7F, 1, 0, 0, 0), &[]);
    // A gap (fragment 1 missing): the job is abandoned, no result.
    send(10, 0);
    send(10, 2);
    // A job larger than the board takes: dropped at its first fragment.
    host.send(
        host.header(UDP_KIND_JOB, 11, 0, 64, 64 + 16_385),
        &frame[..64],
    );
    // Fragments out of order: abandoned.
    send(12, 0);
    send(12, 2);
    send(12, 1);
    // A whole job, with a repeated fragment and then a repeat of the whole job: one result.
    send(13, 0);
    send(13, 0);
    send(13, 1);
    send(13, 1);
    send(13, 2);
    for seq in 0..3 {
        send(13, seq);
    }

    let mut result = Vec::new();
    let mut results = 0;
    while let Some((header, data)) = host.receive() {
        assert_eq!(header.kind, UDP_KIND_RESULT);
        assert_eq!(header.tag, 13, "only the whole job is answered");
        results += usize::from(header.seq == 0);
        result.extend_from_slice(&data);
    }
    assert_eq!(results, 1, "a repeated job runs once");
    let (parsed, output) = lzcache_driver::device::protocol::parse_result(&result).unwrap();
    assert_eq!((parsed.tag, parsed.status, output.len()), (13, RES_OK, 0));
    assert_eq!(parsed.crc, crc64::checksum(&raw));

    assert_eq!(host.read(BRIDGE_REG_JOBS), 1);
    assert_eq!(host.read(BRIDGE_REG_RESULTS), 1);
    assert!(
        host.read(BRIDGE_REG_ABANDONED) >= 2,
        "the gap and the reordering"
    );
    assert!(host.read(BRIDGE_REG_DROPPED) >= 7);
    // A register write answers once it is done.
    host.send(
        host.header(UDP_KIND_REG_WRITE, 5, 0, 4, u32::from(REG_SCRATCH)),
        &0xC0FF_EE00u32.to_le_bytes(),
    );
    let (header, _) = host.receive().expect("the write's answer");
    assert_eq!((header.kind, header.tag), (UDP_KIND_REG_DONE, 5));
    assert_eq!(host.read(REG_SCRATCH), 0xC0FF_EE00);
}

/// Cycles per job of the board design, from a job's first word entering the core to its
/// result's last word leaving, with datagrams presented back to back (the core's own pace,
/// not the wire's). Printed for the README; the bounds are what the design must meet: a job
/// cannot pass faster than its words arrive (4 bytes a cycle), and the checksum and
/// decompress paths keep up with a gigabit wire at the board's accelerator clock.
/// Gigabit Ethernet's 125 MB/s in bytes per cycle of the board's 75 MHz accelerator clock
/// (`boards/lzcache_board_top.v`).
const WIRE_BYTES_PER_CYCLE: f64 = 125e6 / 75e6;

#[test]
fn cycles_per_job_of_the_board_design() {
    let board = BoardSim::start(loopback(), NetFaults::default()).unwrap();
    let link = UdpLink::open(&board.addr().to_string()).unwrap();
    let device = DeviceCodec::new(Box::new(link)).unwrap();
    let sw = SoftwareCodec::new();
    let stats = board.stats();
    let measure = |job: Job, bytes: usize| -> u64 {
        let before = (
            stats.jobs.load(Ordering::Relaxed),
            stats.job_cycles.load(Ordering::Relaxed),
        );
        let done = device.run(job).unwrap();
        assert!(matches!(
            done.status,
            JobStatus::Ok | JobStatus::Incompressible
        ));
        // The result is counted when its last word leaves; the host has it by now.
        assert_eq!(stats.jobs.load(Ordering::Relaxed), before.0 + 1);
        let cycles = stats.job_cycles.load(Ordering::Relaxed) - before.1;
        assert!(
            cycles as usize >= bytes / 4,
            "{cycles} cycles for {bytes} bytes"
        );
        cycles
    };
    eprintln!("board core, cycles per job (bytes/cycle of the raw value):");
    for len in [1024usize, 4096, 16_384] {
        let raw = text(len, len as u64);
        let crc = crc64::checksum(&raw);
        let sum = measure(Job::checksum(1, raw.clone()), len);
        let comp = measure(Job::compress(2, raw.clone()), len);
        let block = sw.run(Job::compress(3, raw.clone())).unwrap().output;
        let dec = measure(Job::decompress(4, block.clone(), len, crc), block.len());
        let rate = |c: u64| len as f64 / c as f64;
        eprintln!(
            "  {len:>6} B: checksum {sum} ({:.2}), compress {comp} ({:.2}), decompress {dec} ({:.2}; block {} B)",
            rate(sum),
            rate(comp),
            rate(dec),
            block.len()
        );
        if len == 16_384 {
            assert!(
                rate(sum) > WIRE_BYTES_PER_CYCLE,
                "checksum keeps up with the wire"
            );
            assert!(
                rate(dec) > WIRE_BYTES_PER_CYCLE,
                "decompression keeps up with the wire"
            );
        }
    }
}
