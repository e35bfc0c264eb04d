//! Soak: verifying clients load the server on the simulated CacheAccelerator while the device
//! injects every kind of fault (error results, corrupted output, dropped jobs, stalls) and bits
//! are flipped in values the store holds. Every value read is checked against what its client
//! last wrote: none may be wrong. Every fault injected must be counted, and memory stays within
//! its bound.
//!
//! `LZCACHE_SOAK_SECS` sets the load's length (default 15 s, the run of `make test`);
//! `make soak SECS=600` runs it long. A run that has not yet seen the work its checks need
//! (device jobs, an injected fault, a flipped value read back) goes on for up to eight times
//! that length, so a loaded machine's slow simulation fails no check for having done too little.

#![cfg(feature = "sim")]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{rss_mib, server, Client, Rng};
use lzcache::Config;
use lzcache_driver::device::{DeviceSpec, FaultPlan};
use lzcache_driver::{CodecSpec, Prefer};

const CLIENTS: u64 = 3;
const KEYS_PER_CLIENT: u64 = 400;
const MEMORY: usize = 8 << 20;

/// The value of `key` at `version`: a header naming both, then text or noise from them.
fn value_of(key: &str, version: u64) -> Vec<u8> {
    let mut rng = Rng(version.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ key.len() as u64 | 1);
    let size = [40, 300, 2_000, 9_000, 20_000][(version % 5) as usize];
    let mut value = format!("{key}@{version}:").into_bytes();
    if version.is_multiple_of(3) {
        value.extend(rng.bytes(size));
    } else {
        value.extend(rng.text(size));
    }
    value
}

#[derive(Default)]
struct Tally {
    sets: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    wrong: AtomicU64,
}

/// One verifying client: sets new versions of its own keys and reads them back.
fn verifying_client(addr: std::net::SocketAddr, id: u64, stop: &AtomicBool, tally: &Tally) {
    let mut c = Client::connect_tcp(addr);
    let mut rng = Rng(id * 7 + 1);
    let mut written: HashMap<u64, u64> = HashMap::new();
    let mut version = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let k = rng.next() % KEYS_PER_CLIENT;
        let key = format!("soak{id}:{k}");
        if rng.next().is_multiple_of(3) || !written.contains_key(&k) {
            version += 1;
            c.set(&key, &value_of(&key, version));
            written.insert(k, version);
            tally.sets.fetch_add(1, Ordering::Relaxed);
        } else {
            match c.get(&key) {
                // Evicted, or dropped because its check failed: a miss is allowed, a wrong
                // value never.
                None => tally.misses.fetch_add(1, Ordering::Relaxed),
                Some(got) if got == value_of(&key, written[&k]) => {
                    tally.hits.fetch_add(1, Ordering::Relaxed)
                }
                Some(got) => {
                    eprintln!(
                        "WRONG value for {key}: {:?}…",
                        String::from_utf8_lossy(&got[..got.len().min(40)])
                    );
                    tally.wrong.fetch_add(1, Ordering::Relaxed)
                }
            };
        }
    }
}

/// How much longer than its set length the load may run while waiting for enough work.
const LOAD_CAP_FACTOR: u64 = 8;

/// Device jobs the run must have seen for its fault checks to mean something.
const DEVICE_JOBS_WANTED: u64 = 20;

/// Device faults injected so far, of every kind.
fn faults_injected(stats: &HashMap<String, String>) -> u64 {
    [
        "lz_dev_injected_errors",
        "lz_dev_injected_corruptions",
        "lz_dev_injected_drops",
        "lz_dev_injected_stalls",
    ]
    .iter()
    .map(|name| number(stats, name))
    .sum()
}

/// Whether the load has done what the checks need: device jobs, an injected fault, a flipped
/// value read back.
fn enough_done(stats: &HashMap<String, String>) -> bool {
    number(stats, "lz_dev_jobs") > DEVICE_JOBS_WANTED
        && faults_injected(stats) > 0
        && number(stats, "crc_errors") > 0
}

fn number(stats: &HashMap<String, String>, name: &str) -> u64 {
    stats
        .get(name)
        .unwrap_or_else(|| panic!("no stat {name}"))
        .parse()
        .unwrap()
}

#[test]
fn no_wrong_value_under_device_faults_and_bit_flips() {
    let secs: u64 = std::env::var("LZCACHE_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(15);
    let plan =
        FaultPlan::parse("error=0.02,corrupt=0.02,drop=0.01,stall=0.02:20ms,seed=11").unwrap();
    let mut config = Config {
        accel: CodecSpec::Device(DeviceSpec::Sim(plan)),
        memory_limit: MEMORY,
        ..Config::default()
    };
    config.dispatch.prefer = Prefer::Device;
    config.dispatch.backoff = Duration::from_millis(10);
    // Long enough that a slow (debug-built, loaded) simulation is not taken for a dead device;
    // dropped jobs cost this each.
    config.device.timeout = Some(Duration::from_secs(2));
    let s = server(config);
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let (stop, tally, addr) = (stop.clone(), tally.clone(), s.addr());
            std::thread::spawn(move || verifying_client(addr, id, &stop, &tally))
        })
        .collect();
    // Bit flips in held values, one every few milliseconds, into keys the clients use. The load
    // runs its length, then on (up to `LOAD_CAP_FACTOR` times as long) until it has done what
    // the checks below need: on a loaded machine the simulated device can be slow enough to
    // spend a whole run behind its breaker, and a check of too little work would then fail.
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let cap = start + Duration::from_secs(secs * LOAD_CAP_FACTOR);
    let mut watcher = Client::connect_tcp(s.addr());
    let mut next_look = deadline;
    let mut flips = 0u64;
    let mut rng = Rng(5);
    loop {
        let now = Instant::now();
        if now >= deadline && now >= next_look {
            if now >= cap || enough_done(&watcher.stats("")) {
                break;
            }
            next_look = now + Duration::from_secs(1);
        }
        let key = format!(
            "soak{}:{}",
            rng.next() % CLIENTS,
            rng.next() % KEYS_PER_CLIENT
        );
        let bit = rng.next() as usize;
        let flipped = s
            .cache()
            .store
            .with_stored_bytes_mut(key.as_bytes(), |bytes| {
                let bit = bit % (bytes.len() * 8);
                bytes[bit / 8] ^= 1 << (bit % 8);
            });
        flips += u64::from(flipped);
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    let ran = start.elapsed().as_secs_f64();
    for client in clients {
        client.join().expect("a verifying client");
    }
    let mut c = Client::connect_tcp(s.addr());
    let stats = c.stats("");
    let (sets, hits, misses, wrong) = (
        tally.sets.load(Ordering::Relaxed),
        tally.hits.load(Ordering::Relaxed),
        tally.misses.load(Ordering::Relaxed),
        tally.wrong.load(Ordering::Relaxed),
    );
    eprintln!(
        "soak {ran:.1} s: {sets} sets, {hits} verified hits, {misses} misses, {wrong} wrong; {flips} bits flipped, \
         {} caught by their CRC; device: {} jobs, injected {} errors / {} corruptions / {} drops / {} stalls; \
         {} errors, {} CRC mismatches + {} verify failures, {} timeouts, {} fallbacks, {} damaged values; \
         {} of {} bytes held",
        number(&stats, "crc_errors"),
        number(&stats, "lz_dev_jobs"),
        number(&stats, "lz_dev_injected_errors"),
        number(&stats, "lz_dev_injected_corruptions"),
        number(&stats, "lz_dev_injected_drops"),
        number(&stats, "lz_dev_injected_stalls"),
        number(&stats, "lz_dev_errors"),
        number(&stats, "lz_dev_crc_mismatches"),
        number(&stats, "lz_dev_verify_failures"),
        number(&stats, "lz_dev_timeouts"),
        number(&stats, "lz_dev_fallbacks"),
        number(&stats, "lz_dev_damaged_values"),
        number(&stats, "bytes"),
        number(&stats, "limit_maxbytes"),
    );
    // One process holds the server, its simulated device, the clients and the harness: its
    // resident memory bounds the server's from above.
    eprintln!(
        "soak {ran:.1} s: process resident memory {:.1} MiB (server, simulated device, clients \
         and harness together; -m {} MiB)",
        rss_mib(std::process::id()),
        MEMORY >> 20
    );
    assert_eq!(wrong, 0, "wrong values served");
    assert!(hits > 0 && sets > 0, "the load did nothing");
    // Flips of values nobody read again stay unseen; every one seen was caught, and a flip is
    // the only source of CRC errors here.
    assert!(
        number(&stats, "crc_errors") > 0,
        "no flipped value was read back in {ran:.1} s"
    );
    assert!(number(&stats, "crc_errors") <= flips);
    // Every injected device fault was seen by the driver: as what it is, or — when its job
    // was past its deadline first — as a timeout.
    let injected = |name| number(&stats, name);
    assert!(
        number(&stats, "lz_dev_jobs") > DEVICE_JOBS_WANTED,
        "the device did too little in {ran:.1} s: {stats:?}"
    );
    assert!(
        faults_injected(&stats) > 0,
        "no fault injected in {ran:.1} s"
    );
    let timeouts = number(&stats, "lz_dev_timeouts");
    // An error injected into the decompression of a value the bit flipper had damaged agrees
    // with software (which cannot read it either): counted as a damaged value, not a fault.
    assert!(
        injected("lz_dev_injected_errors") + injected("lz_dev_injected_drops")
            <= number(&stats, "lz_dev_errors") + timeouts + number(&stats, "lz_dev_damaged_values"),
        "errors or drops not seen"
    );
    assert!(
        injected("lz_dev_injected_corruptions")
            <= number(&stats, "lz_dev_crc_mismatches")
                + number(&stats, "lz_dev_verify_failures")
                + timeouts
                + number(&stats, "lz_dev_damaged_values"),
        "corruptions not seen"
    );
    assert!(
        number(&stats, "bytes") <= MEMORY as u64,
        "held bytes past -m"
    );
}
