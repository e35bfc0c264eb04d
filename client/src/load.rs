//! The load generator behind `lzcache-bench`: connections on their own threads issuing a
//! get/set mix over a key space whose value sizes follow a given mix, with every hit checked
//! byte for byte, and latencies in a histogram.
//!
//! Each key has one size and one content for the whole run (both derived from the key), so any
//! connection can check any hit whatever other connections stored: a wrong byte is an error,
//! not noise.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::{Client, Error, Options, Stored, Transport};

/// What to run.
#[derive(Clone, Debug)]
pub struct Workload {
    pub connections: usize,
    pub keys: u64,
    /// (value size, weight) pairs.
    pub sizes: Vec<(usize, u32)>,
    /// Gets per set: 9.0 means 9 gets for each set.
    pub gets_per_set: f64,
    /// Requests sent back to back before their replies are read.
    pub pipeline: usize,
    pub duration: Duration,
    pub seed: u64,
}

/// What a run measured.
#[derive(Debug)]
pub struct Report {
    pub gets: u64,
    pub hits: u64,
    pub sets: u64,
    pub elapsed: Duration,
    /// Round-trip time of each batch (one request when not pipelining), in nanoseconds.
    pub latency: Histogram<u64>,
    /// Connections that fell back from RDMA to TCP.
    pub fallbacks: usize,
}

impl Report {
    pub fn ops_per_sec(&self) -> f64 {
        (self.gets + self.sets) as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_us(&self, p: f64) -> f64 {
        self.latency.value_at_quantile(p) as f64 / 1000.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("connection {connection}: {source}")]
    Client { connection: usize, source: Error },
    #[error(
        "connection {connection}: key {key} served {got} bytes that are not the {want} stored"
    )]
    Corrupt {
        connection: usize,
        key: String,
        got: usize,
        want: usize,
    },
    #[error("connection {connection}: set of {key} answered {answer:?}")]
    NotStored {
        connection: usize,
        key: String,
        answer: Stored,
    },
}

/// Round trips from 1 ns to 60 s at three significant digits; longer ones count as 60 s.
fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

/// xorshift64*: fast, seedable, and the same everywhere.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// The key of index `i` and its value: a size picked by the mix and bytes from the index.
pub fn key_and_value(workload: &Workload, i: u64) -> (String, Vec<u8>) {
    let mut rng = Rng(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let total: u32 = workload.sizes.iter().map(|&(_, w)| w).sum();
    let mut pick = (rng.next() % u64::from(total.max(1))) as u32;
    let mut size = workload.sizes.first().map_or(0, |&(s, _)| s);
    for &(s, w) in &workload.sizes {
        if pick < w {
            size = s;
            break;
        }
        pick -= w;
    }
    // Half text-like (compressible), half random: a cache holds both.
    let value = if i.is_multiple_of(2) {
        const WORDS: [&[u8]; 8] = [
            b"user ",
            b"id ",
            b"session ",
            b"{\"name\":",
            b"\"value\",",
            b"42 ",
            b"cache ",
            b"\n",
        ];
        let mut v = Vec::with_capacity(size + 8);
        while v.len() < size {
            v.extend_from_slice(WORDS[(rng.next() % 8) as usize]);
        }
        v.truncate(size);
        v
    } else {
        (0..size).map(|_| rng.next() as u8).collect()
    };
    (format!("bench:{i}"), value)
}

/// Stores every key once, so gets hit from the start.
pub fn preload(
    addr: SocketAddr,
    transport: &Transport,
    workload: &Workload,
) -> Result<(), LoadError> {
    let mut client =
        Client::connect_with(addr, transport, Options::default()).map_err(|source| {
            LoadError::Client {
                connection: 0,
                source,
            }
        })?;
    let batch = 64;
    let mut next = 0;
    while next < workload.keys {
        let end = (next + batch).min(workload.keys);
        for i in next..end {
            let (key, value) = key_and_value(workload, i);
            client.queue_store(crate::StoreMode::Set, &key, 0, 0, &value);
        }
        for i in next..end {
            let answer = client.read_stored().map_err(|source| LoadError::Client {
                connection: 0,
                source,
            })?;
            if answer != Stored::Stored {
                return Err(LoadError::NotStored {
                    connection: 0,
                    key: format!("bench:{i}"),
                    answer,
                });
            }
        }
        next = end;
    }
    Ok(())
}

/// Runs the workload against `addr` and reports.
pub fn run(
    addr: SocketAddr,
    transport: &Transport,
    workload: &Workload,
) -> Result<Report, LoadError> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..workload.connections)
        .map(|connection| {
            let transport = transport.clone();
            let workload = workload.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                connection_loop(connection, addr, &transport, &workload, &stop)
            })
        })
        .collect();
    std::thread::sleep(workload.duration);
    stop.store(true, Ordering::Relaxed);
    let mut report = Report {
        gets: 0,
        hits: 0,
        sets: 0,
        elapsed: Duration::ZERO,
        latency: latency_histogram(),
        fallbacks: 0,
    };
    let mut first_error = None;
    for thread in threads {
        match thread.join().expect("a load thread") {
            Ok(part) => {
                report.gets += part.gets;
                report.hits += part.hits;
                report.sets += part.sets;
                report.fallbacks += part.fallbacks;
                report
                    .latency
                    .add(&part.latency)
                    .expect("same histogram bounds");
            }
            Err(err) => {
                first_error.get_or_insert(err);
            }
        }
    }
    report.elapsed = started.elapsed();
    match first_error {
        Some(err) => Err(err),
        None => Ok(report),
    }
}

fn connection_loop(
    connection: usize,
    addr: SocketAddr,
    transport: &Transport,
    workload: &Workload,
    stop: &AtomicBool,
) -> Result<Report, LoadError> {
    let fail = |source| LoadError::Client { connection, source };
    let mut client = Client::connect_with(addr, transport, Options::default()).map_err(fail)?;
    let mut report = Report {
        gets: 0,
        hits: 0,
        sets: 0,
        elapsed: Duration::ZERO,
        latency: latency_histogram(),
        fallbacks: usize::from(client.transport() == crate::Connected::TcpFallback),
    };
    let mut rng = Rng(workload.seed ^ (connection as u64 + 1).wrapping_mul(0xa076_1d64_78bd_642f));
    let set_share = 1.0 / (1.0 + workload.gets_per_set);
    let mut batch: Vec<(bool, u64)> = Vec::with_capacity(workload.pipeline);
    while !stop.load(Ordering::Relaxed) {
        batch.clear();
        for _ in 0..workload.pipeline.max(1) {
            let i = rng.next() % workload.keys.max(1);
            let is_set = (rng.next() as f64 / u64::MAX as f64) < set_share;
            let (key, value) = key_and_value(workload, i);
            if is_set {
                client.queue_store(crate::StoreMode::Set, &key, 0, 0, &value);
            } else {
                client.queue_get(&[&key], false);
            }
            batch.push((is_set, i));
        }
        let sent = Instant::now();
        for &(is_set, i) in &batch {
            if is_set {
                let answer = client.read_stored().map_err(fail)?;
                if answer != Stored::Stored {
                    return Err(LoadError::NotStored {
                        connection,
                        key: format!("bench:{i}"),
                        answer,
                    });
                }
                report.sets += 1;
            } else {
                let items = client.read_items().map_err(fail)?;
                report.gets += 1;
                if let Some(item) = items.first() {
                    let (key, value) = key_and_value(workload, i);
                    if item.key != key || item.value != value {
                        return Err(LoadError::Corrupt {
                            connection,
                            key,
                            got: item.value.len(),
                            want: value.len(),
                        });
                    }
                    report.hits += 1;
                }
            }
        }
        let nanos = sent.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
        report.latency.saturating_record(nanos.max(1));
    }
    Ok(report)
}
