//! The simulated device stalls or stops answering while other connections on the same worker
//! keep being served: a device job is awaited, never blocked on, and a device that does not
//! answer costs only its own job a deadline and a software redo.
#![cfg(feature = "sim")]

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Client, Rng};
use lzcache::{Config, ServerHandle};
use lzcache_driver::device::{DeviceSpec, FaultPlan};
use lzcache_driver::{CodecSpec, Prefer};

/// One worker, so both connections share its event loop.
fn one_worker_server(plan: &str, deadline: Option<Duration>) -> ServerHandle {
    let mut config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 1,
        accel: CodecSpec::Device(DeviceSpec::Sim(FaultPlan::parse(plan).unwrap())),
        ..Config::default()
    };
    config.dispatch.prefer = Prefer::Device;
    config.device.timeout = deadline;
    lzcache::start(config).expect("server starts")
}

/// Sends a device-sized value on `slow`, then runs small requests (no codec job) on `fast`
/// until the slow reply comes. Returns the slow reply's latency, the worst fast round trip,
/// and how many fast round trips completed before the slow reply.
fn race(addr: SocketAddr, value: &[u8]) -> (Duration, Duration, usize) {
    let mut slow = Client::connect(addr);
    slow.tcp()
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut fast = Client::connect(addr);
    fast.exchange(b"set small 0 0 5\r\nhello\r\n", b"STORED\r\n");
    let started = Instant::now();
    let mut request = format!("set big 0 0 {}\r\n", value.len()).into_bytes();
    request.extend_from_slice(value);
    request.extend_from_slice(b"\r\n");
    slow.send(&request);
    let mut worst = Duration::ZERO;
    let mut served = 0;
    slow.tcp().set_nonblocking(true).unwrap();
    loop {
        let mut probe = [0u8; 1];
        if slow.tcp().peek(&mut probe).is_ok() {
            break;
        }
        let t = Instant::now();
        fast.exchange(b"get small\r\n", b"VALUE small 0 5\r\nhello\r\nEND\r\n");
        worst = worst.max(t.elapsed());
        served += 1;
    }
    slow.tcp().set_nonblocking(false).unwrap();
    assert_eq!(slow.read_line(), b"STORED\r\n");
    (started.elapsed(), worst, served)
}

#[test]
fn other_connections_are_served_while_the_device_stalls() {
    const STALL: Duration = Duration::from_millis(2000);
    let server = one_worker_server("stall=1:2000ms", None);
    let value = Rng(3).text(4000);
    let (slow, worst, served) = race(server.addr(), &value);
    assert!(slow >= STALL, "the device did stall: the set took {slow:?}");
    assert!(
        worst < STALL / 10,
        "a request on the same worker waited {worst:?} behind the stalled device"
    );
    assert!(
        served >= 20,
        "only {served} requests served during the stall"
    );
    let mut client = Client::connect(server.addr());
    let stats = client.stats("");
    assert_eq!(stats["lz_dev_jobs"], "1", "{stats:?}");
    assert_eq!(stats["lz_dev_timeouts"], "0", "{stats:?}");
    assert_eq!(client.get("big").as_deref(), Some(&value[..]));
    eprintln!(
        "stall {STALL:?}: set answered in {slow:?}; {served} other requests, worst {worst:?}"
    );
}

#[test]
fn a_silent_device_costs_its_job_a_deadline_and_a_software_redo() {
    const DEADLINE: Duration = Duration::from_millis(1000);
    let server = one_worker_server("drop=1", Some(DEADLINE));
    let value = Rng(4).text(4000);
    let (slow, worst, served) = race(server.addr(), &value);
    assert!(slow >= DEADLINE, "answered before the deadline: {slow:?}");
    assert!(
        worst < DEADLINE / 5,
        "a request waited {worst:?} behind the silent device"
    );
    assert!(served >= 10, "only {served} requests served meanwhile");
    let mut client = Client::connect(server.addr());
    let stats = client.stats("");
    assert_eq!(stats["lz_dev_timeouts"], "1", "{stats:?}");
    assert_eq!(stats["lz_dev_deadline_misses"], "1", "{stats:?}");
    assert_eq!(stats["lz_dev_queue_depth"], "0", "{stats:?}");
    assert!(
        stats["lz_sw_jobs"].parse::<u64>().unwrap() >= 1,
        "{stats:?}"
    );
    assert_eq!(client.get("big").as_deref(), Some(&value[..]));
}
