//! The server over a device that answers jobs out of order and late: 64 connections pipelining
//! sets and gets all get their own answers, in request order; and a connection whose value is
//! held at the device does not hold up another connection on the same worker.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Client, Rng};
use lzcache::Config;
use lzcache_driver::{Codec, CodecError, Completer, Job, Pending, SoftwareCodec};

/// A device that collects the jobs in flight and answers each batch in reverse order of
/// submission (software computes the answers). `held` keeps answers back until released.
struct ReorderingDevice {
    jobs: Mutex<mpsc::Sender<(u64, Job, Completer)>>,
    submitted: AtomicU64,
    out_of_order: Arc<AtomicU64>,
    held: Arc<Mutex<bool>>,
}

impl ReorderingDevice {
    fn start() -> Arc<Self> {
        let (tx, rx) = mpsc::channel::<(u64, Job, Completer)>();
        let out_of_order = Arc::new(AtomicU64::new(0));
        let held = Arc::new(Mutex::new(false));
        let (counter, gate) = (Arc::clone(&out_of_order), Arc::clone(&held));
        std::thread::spawn(move || {
            let mut last = 0;
            let mut waiting: Vec<(u64, Job, Completer)> = Vec::new();
            loop {
                // Gather what is in flight; a short window lets jobs of many connections meet.
                match rx.recv_timeout(Duration::from_millis(2)) {
                    Ok(job) => {
                        waiting.push(job);
                        while let Ok(job) = rx.try_recv() {
                            waiting.push(job);
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                }
                if *gate.lock().unwrap() {
                    continue;
                }
                while let Some((seq, job, completer)) = waiting.pop() {
                    if seq < last {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    last = seq;
                    completer.complete(Ok(SoftwareCodec::new().execute(&job)));
                }
            }
        });
        Arc::new(Self {
            jobs: Mutex::new(tx),
            submitted: AtomicU64::new(0),
            out_of_order,
            held,
        })
    }

    fn hold(&self, on: bool) {
        *self.held.lock().unwrap() = on;
    }
}

impl Codec for ReorderingDevice {
    fn name(&self) -> &str {
        "reordering"
    }

    fn submit(&self, job: Job) -> Result<Pending, CodecError> {
        let seq = self.submitted.fetch_add(1, Ordering::Relaxed);
        let (completer, pending) = Pending::channel();
        self.jobs
            .lock()
            .unwrap()
            .send((seq, job, completer))
            .map_err(|_| CodecError::Disconnected("reordering".into()))?;
        Ok(pending)
    }
}

fn start(device: &Arc<ReorderingDevice>) -> lzcache::ServerHandle {
    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 2,
        ..Config::default()
    };
    let codec: Arc<dyn Codec> = device.clone();
    lzcache::start_with_codec(config, codec).expect("server starts")
}

#[test]
fn sixty_four_pipelining_connections_get_their_own_answers_in_order() {
    let device = ReorderingDevice::start();
    let server = start(&device);
    let addr = server.addr();
    let clients: Vec<_> = (0..64u64)
        .map(|c| {
            std::thread::spawn(move || {
                let mut rng = Rng(100 + c);
                let mut client = Client::connect(addr);
                for round in 0..3 {
                    let values: Vec<(String, Vec<u8>)> = (0..8)
                        .map(|i| {
                            let len = 100 + (rng.next() % 3000) as usize;
                            (format!("c{c}:r{round}:k{i}"), rng.text(len))
                        })
                        .collect();
                    // All sets and gets in one write: the replies must come back in order.
                    let mut pipeline = Vec::new();
                    let mut expected = Vec::new();
                    for (key, value) in &values {
                        pipeline.extend(format!("set {key} {c} 0 {}\r\n", value.len()).bytes());
                        pipeline.extend_from_slice(value);
                        pipeline.extend_from_slice(b"\r\n");
                        expected.extend_from_slice(b"STORED\r\n");
                    }
                    for (key, value) in values.iter().rev() {
                        pipeline.extend(format!("get {key}\r\n").bytes());
                        expected.extend(format!("VALUE {key} {c} {}\r\n", value.len()).bytes());
                        expected.extend_from_slice(value);
                        expected.extend_from_slice(b"\r\nEND\r\n");
                    }
                    client.send(&pipeline);
                    let got = client.read_n(expected.len());
                    assert!(
                        got == expected,
                        "connection {c} round {round}: replies differ"
                    );
                }
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client thread");
    }
    let reordered = device.out_of_order.load(Ordering::Relaxed);
    let jobs = device.submitted.load(Ordering::Relaxed);
    assert!(
        jobs >= 64 * 3 * 16,
        "every value went to the device ({jobs} jobs)"
    );
    assert!(reordered > 0, "the device did answer out of order");
    eprintln!("{jobs} device jobs, {reordered} answered after a later one");
}

#[test]
fn a_value_held_at_the_device_does_not_hold_up_the_worker() {
    let device = ReorderingDevice::start();
    let config = Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 1,
        ..Config::default()
    };
    let codec: Arc<dyn Codec> = device.clone();
    let server = lzcache::start_with_codec(config, codec).expect("server starts");
    let mut slow = Client::connect(server.addr());
    let mut fast = Client::connect(server.addr());
    device.hold(true);
    let value = Rng(5).text(2000);
    let mut request = format!("set held 0 0 {}\r\n", value.len()).into_bytes();
    request.extend_from_slice(&value);
    request.extend_from_slice(b"\r\n");
    slow.send(&request);
    // The same worker serves the other connection completely while the job is held.
    for i in 0..50 {
        let key = format!("small{i}");
        fast.exchange(
            format!("set {key} 0 0 2\r\nok\r\n").as_bytes(),
            b"STORED\r\n",
        );
        fast.exchange(
            format!("get {key}\r\n").as_bytes(),
            format!("VALUE {key} 0 2\r\nok\r\nEND\r\n").as_bytes(),
        );
    }
    slow.tcp().set_nonblocking(true).unwrap();
    let mut probe = [0u8; 1];
    assert!(
        slow.tcp().peek(&mut probe).is_err(),
        "no reply while the job is held"
    );
    slow.tcp().set_nonblocking(false).unwrap();
    device.hold(false);
    assert_eq!(slow.read_line(), b"STORED\r\n");
    assert_eq!(slow.get("held").as_deref(), Some(&value[..]));
}
