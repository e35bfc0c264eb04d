//! The server on the simulated CacheAccelerator: values go through the device and come back
//! exactly; every injected device fault (error results, corrupted output, no answer, stalls)
//! ends in zero wrong answers and zero client-visible errors, the work falling back to
//! software; real clients (memccapable, pymemcache) pass against `lzcache --accel sim`; and
//! the server drives a board over UDP (the verilated board core behind a socket).

#![cfg(feature = "sim")]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{server, Binary, Client, Rng};
use lzcache::Config;
use lzcache_driver::device::{DeviceSpec, FaultPlan};
use lzcache_driver::{CodecSpec, Prefer};

fn sim_config(faults: Option<&str>) -> Config {
    let plan = faults.map_or_else(FaultPlan::none, |f| FaultPlan::parse(f).unwrap());
    let mut config = Config {
        accel: CodecSpec::Device(DeviceSpec::Sim(plan)),
        ..Config::default()
    };
    config.dispatch.prefer = Prefer::Device;
    // A short deadline only where the device is told not to answer: elsewhere a slow (loaded)
    // machine must not turn into device faults.
    if faults.is_some_and(|f| f.contains("drop")) {
        config.device.timeout = Some(Duration::from_millis(300));
    }
    config.dispatch.backoff = Duration::from_millis(10);
    config
}

/// Values the device compresses (text of several sizes) and some it cannot (noise).
fn values(rng: &mut Rng, n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let len = [100, 700, 3000, 9000, 20_000][i % 5];
            let value = if i % 7 == 3 {
                rng.bytes(len)
            } else {
                rng.text(len)
            };
            (format!("key:{i}"), value)
        })
        .collect()
}

/// Stores and reads back every value twice, asserting exact replies; returns the stats.
fn round_trip(addr: SocketAddr, seed: u64) -> std::collections::HashMap<String, String> {
    let mut client = Client::connect(addr);
    let values = values(&mut Rng(seed), 30);
    for (key, value) in &values {
        client.set(key, value);
    }
    for _ in 0..2 {
        for (key, value) in &values {
            let got = client.get(key).unwrap_or_else(|| panic!("{key}: miss"));
            assert!(
                &got == value,
                "{key}: wrong bytes ({} vs {})",
                got.len(),
                value.len()
            );
        }
    }
    client.stats("")
}

fn number(stats: &std::collections::HashMap<String, String>, name: &str) -> u64 {
    stats
        .get(name)
        .unwrap_or_else(|| panic!("no stat {name}"))
        .parse()
        .unwrap()
}

#[test]
fn values_go_through_the_device_and_come_back_exactly() {
    let s = server(sim_config(None));
    let stats = round_trip(s.addr(), 1);
    assert_eq!(stats["lz_accel"], "sim");
    assert_eq!(stats["lz_dev_state"], "closed");
    // 30 sets and 60 gets of compressible values, all but the smallest on the device.
    assert!(number(&stats, "lz_dev_jobs") >= 60, "{stats:?}");
    assert_eq!(number(&stats, "lz_dev_fallbacks"), 0);
    assert_eq!(number(&stats, "lz_sw_jobs"), 0);
    assert!(number(&stats, "lz_dev_verified") > 0);
    assert_eq!(number(&stats, "crc_errors"), 0);
}

/// The server driving a board over UDP (`--accel udp:HOST:PORT`): the verilated board core
/// behind a real socket. Values over the board's 16 KiB jobs go to software.
#[test]
fn values_go_through_a_board_over_udp_and_come_back_exactly() {
    use lzcache_driver::device::board_sim::{BoardSim, NetFaults};
    let board = BoardSim::start("127.0.0.1:0".parse().unwrap(), NetFaults::default()).unwrap();
    let mut config = Config {
        accel: CodecSpec::Device(DeviceSpec::Udp(board.addr().to_string())),
        ..Config::default()
    };
    config.dispatch.prefer = Prefer::Device;
    let s = server(config);
    let stats = round_trip(s.addr(), 2);
    assert_eq!(stats["lz_accel"], format!("udp:{}", board.addr()));
    assert_eq!(stats["lz_dev_state"], "closed", "{stats:?}");
    // Of 30 values, 24 are at most 9000 bytes: their sets and gets ran on the board.
    assert!(number(&stats, "lz_dev_jobs") >= 60, "{stats:?}");
    assert_eq!(number(&stats, "lz_dev_timeouts"), 0, "{stats:?}");
    assert!(
        number(&stats, "lz_sw_jobs") > 0,
        "the 20 000-byte values: {stats:?}"
    );
    assert_eq!(number(&stats, "crc_errors"), 0);
}

#[test]
fn every_fault_kind_falls_back_with_no_wrong_answer() {
    for (plan, counter) in [
        ("error=0.5,seed=3", "lz_dev_errors"),
        ("corrupt=0.5,seed=4", "lz_dev_fallbacks"),
        ("drop=0.3,seed=5", "lz_dev_timeouts"),
        ("stall=0.3:30ms,seed=6", "lz_dev_jobs"),
    ] {
        let s = server(sim_config(Some(plan)));
        let stats = round_trip(s.addr(), 7);
        assert!(
            number(&stats, counter) > 0,
            "{plan}: {counter} is 0: {stats:?}"
        );
        assert_eq!(number(&stats, "crc_errors"), 0, "{plan}");
        // The fault did happen, and was survived.
        let kind = plan.split('=').next().unwrap();
        let injected = match kind {
            "error" => "lz_dev_injected_errors",
            "corrupt" => "lz_dev_injected_corruptions",
            "drop" => "lz_dev_injected_drops",
            _ => "lz_dev_injected_stalls",
        };
        assert!(
            number(&stats, injected) > 0,
            "{plan}: nothing injected: {stats:?}"
        );
        if kind == "stall" {
            // A 30 ms stall is well inside the deadline: no job may have been given up on.
            assert_eq!(number(&stats, "lz_dev_timeouts"), 0, "{plan}: {stats:?}");
            assert_eq!(number(&stats, "lz_dev_fallbacks"), 0, "{plan}: {stats:?}");
        }
        if !plan.starts_with("stall") {
            assert!(number(&stats, "lz_dev_fallbacks") > 0, "{plan}: {stats:?}");
            assert!(number(&stats, "lz_sw_jobs") > 0, "{plan}: {stats:?}");
        }
        if plan.starts_with("corrupt") {
            let caught =
                number(&stats, "lz_dev_crc_mismatches") + number(&stats, "lz_dev_verify_failures");
            assert!(caught > 0, "{plan}: {stats:?}");
        }
        eprintln!(
            "{plan}: {} device jobs, {} software jobs, {} fallbacks",
            stats["lz_dev_jobs"], stats["lz_sw_jobs"], stats["lz_dev_fallbacks"]
        );
    }
}

#[test]
fn memccapable_passes_against_the_simulated_device() {
    let server = Binary::start(&["--accel", "sim", "--accel-prefer", "device"]);
    let out = Command::new("memccapable")
        .args(["-h", "127.0.0.1", "-p", &server.port.to_string(), "-a"])
        .output()
        .expect("memccapable is installed (make deps)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("FAIL"), "memccapable:\n{text}");
    assert_eq!(text.matches("[pass]").count(), 27, "{text}");
}

#[test]
fn pymemcache_values_go_through_the_simulated_device() {
    let server = Binary::start(&["--accel", "sim", "--accel-prefer", "device"]);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/pymemcache_device.py");
    let out = Command::new("/usr/bin/python3")
        .arg(script)
        .arg(server.port.to_string())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{stdout}");
}

#[test]
fn fastest_sends_most_work_to_software_when_the_device_is_slower() {
    // The simulated device takes milliseconds per job, software microseconds: once both are
    // measured, software gets the work, and the device still sees a share (to stay measured).
    let mut config = sim_config(None);
    config.dispatch.prefer = Prefer::Fastest;
    let s = server(config);
    let mut client = Client::connect(s.addr());
    let values = values(&mut Rng(11), 200);
    for (key, value) in &values {
        client.set(key, value);
        assert_eq!(client.get(key).as_ref(), Some(value));
    }
    let stats = client.stats("");
    let (sw, dev) = (number(&stats, "lz_sw_jobs"), number(&stats, "lz_dev_jobs"));
    assert!(dev >= 1 && sw > 4 * dev, "software {sw}, device {dev}");
}
