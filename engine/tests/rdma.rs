//! The server over RDMA (emulated verbs): faults of the transport end the connection they hit
//! and nothing else; every other connection's requests are answered; no registered memory is
//! left behind; the server keeps serving.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Client, Conn};
use lzcache::{Config, ServerHandle};
use lzcache_rdma::verbs::{
    Access, Completion, MemoryRegion, Provider, QpParams, QpState, QueuePair, RecvWr, SendOp,
    SendWr, Sge, WcOpcode, WcStatus,
};
use lzcache_rdma::{BlockingRdmaStream, ChannelConfig, Fabric};

/// A server on its own fabric, so registrations are counted for this test alone.
fn rdma_server(fabric: &Fabric, channel: ChannelConfig) -> ServerHandle {
    let provider: Arc<dyn Provider> = Arc::new(fabric.clone());
    let server = lzcache::start(Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 2,
        rdma_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        rdma: Some(provider),
        rdma_channel: channel,
        ..Config::default()
    })
    .expect("server starts");
    assert_eq!(server.rdma_addr(), Some(server.addr()));
    server
}

fn client(fabric: &Fabric, addr: SocketAddr) -> Client {
    let mut stream = BlockingRdmaStream::connect(
        fabric,
        addr,
        ChannelConfig::default(),
        Duration::from_secs(5),
    )
    .expect("RDMA connect");
    stream.set_read_timeout(Some(Duration::from_secs(5)));
    Client {
        stream: Conn::Rdma(Box::new(stream)),
    }
}

/// Waits (bounded) until the server has torn down every connection but `live` clients'.
fn wait_for_teardown(fabric: &Fabric, live: usize) {
    let per_connection = 4;
    let deadline = Instant::now() + Duration::from_secs(10);
    while fabric.registered_regions() != live * per_connection * 2 {
        assert!(
            Instant::now() < deadline,
            "{} regions registered, {} expected: a connection's memory leaked",
            fabric.registered_regions(),
            live * per_connection * 2
        );
        std::thread::yield_now();
    }
}

#[test]
fn values_of_every_size_class_round_trip_and_teardown_frees_everything() {
    let fabric = Fabric::new(11);
    let server = rdma_server(&fabric, ChannelConfig::default());
    let mut c = client(&fabric, server.addr());
    let mut rng = common::Rng(5);
    for size in [0, 1, 100, 1000, 4096, 65_535, 65_536, 300_000, 1 << 20] {
        let value = if size % 2 == 0 {
            rng.text(size)
        } else {
            rng.bytes(size)
        };
        c.set(&format!("k{size}"), &value);
        assert!(
            c.get(&format!("k{size}")) == Some(value),
            "value of {size} bytes"
        );
    }
    // Through TCP the same items are seen.
    let mut tcp = Client::connect_tcp(server.addr());
    assert_eq!(tcp.get("k100").map(|v| v.len()), Some(100));
    let (work_requests, completions) = fabric.counts();
    assert!(work_requests > 0 && completions > 0);
    let connections = |tcp: &mut Client| tcp.stat("curr_connections").parse::<u64>().unwrap();
    let with_rdma = connections(&mut tcp);
    drop(c);
    wait_for_teardown(&fabric, 0);
    let deadline = Instant::now() + Duration::from_secs(10);
    while connections(&mut tcp) != with_rdma - 1 {
        assert!(
            Instant::now() < deadline,
            "the RDMA connection's place was never given back"
        );
    }
}

#[test]
fn a_client_that_disconnects_mid_value_loses_only_its_own_request() {
    let fabric = Fabric::new(12);
    let server = rdma_server(&fabric, ChannelConfig::default());
    let mut other = client(&fabric, server.addr());
    other.set("kept", b"yes");
    let mut leaving = client(&fabric, server.addr());
    leaving.send(b"set half 0 0 100000\r\n");
    leaving.send(&vec![b'v'; 50_000]);
    std::io::Write::flush(&mut leaving.stream).unwrap();
    drop(leaving);
    wait_for_teardown(&fabric, 1);
    assert_eq!(other.get("half"), None, "a partial value is never stored");
    assert_eq!(other.get("kept"), Some(b"yes".to_vec()));
}

#[test]
fn many_connections_interleaved_by_the_wire_all_get_their_own_answers() {
    for seed in [21, 22] {
        let fabric = Fabric::new(seed);
        let server = rdma_server(&fabric, ChannelConfig::default());
        let addr = server.addr();
        let workers: Vec<_> = (0..6)
            .map(|i| {
                let fabric = fabric.clone();
                std::thread::spawn(move || {
                    let mut c = client(&fabric, addr);
                    let mut rng = common::Rng(seed * 10 + i);
                    for round in 0..40 {
                        let key = format!("c{i}r{round}");
                        let len = 50 + (rng.next() % 20_000) as usize;
                        let value = rng.text(len);
                        // Pipelined: a set and a get in one send, answers in order.
                        let mut request = format!("set {key} 0 0 {}\r\n", value.len()).into_bytes();
                        request.extend_from_slice(&value);
                        request.extend_from_slice(format!("\r\nget {key}\r\n").as_bytes());
                        c.send(&request);
                        assert_eq!(c.read_line(), b"STORED\r\n");
                        let header = format!("VALUE {key} 0 {}\r\n", value.len());
                        assert_eq!(c.read_n(header.len()), header.as_bytes());
                        assert!(c.read_n(value.len() + 2)[..value.len()] == value[..]);
                        assert_eq!(c.read_line(), b"END\r\n");
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("every connection answered");
        }
        wait_for_teardown(&fabric, 0);
    }
}

/// A hand-made client on raw verbs, to misbehave in ways the stream never would.
struct RawClient {
    qp: Arc<dyn QueuePair>,
    out: Arc<dyn MemoryRegion>,
    inbox: Arc<dyn MemoryRegion>,
    ring: Arc<dyn MemoryRegion>,
}

const RAW_PARAMS: QpParams = QpParams {
    sq_depth: 8,
    rq_depth: 8,
    rnr_retry: 7,
};

impl RawClient {
    /// Connects; with `post_receives` false it never posts a receive.
    fn connect(fabric: &Fabric, addr: SocketAddr, post_receives: bool) -> RawClient {
        let mut regions = None;
        let qp = fabric
            .connect(addr, RAW_PARAMS, &mut |qp| {
                let out = qp.register(4096, Access::NONE)?;
                let inbox = qp.register(8 * 32, Access::LOCAL_WRITE)?;
                let ring = qp.register(4096, Access::LOCAL_WRITE | Access::REMOTE_WRITE)?;
                if post_receives {
                    for slot in 0..8u64 {
                        qp.post_recv(RecvWr {
                            wr_id: slot,
                            sge: Some(Sge {
                                addr: inbox.addr() + slot * 32,
                                len: 32,
                                lkey: inbox.lkey(),
                            }),
                        })?;
                    }
                }
                regions = Some((out, inbox, ring));
                Ok(())
            })
            .unwrap();
        let (out, inbox, ring) = regions.unwrap();
        RawClient {
            qp,
            out,
            inbox,
            ring,
        }
    }

    fn next_completion(&self) -> Completion {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut got = Vec::new();
        while self.qp.poll_cq(&mut got, 1) == 0 {
            assert!(Instant::now() < deadline, "no completion");
            std::thread::yield_now();
        }
        got[0]
    }

    /// Sends the transport's HELLO (its documented layout: type 1, version 1, receive depth,
    /// ring length, rkey, ring address) naming `rkey`.
    fn send_hello(&self, rkey: u32) {
        let mut hello = [0u8; 32];
        hello[0] = 1;
        hello[1] = 1;
        hello[4..8].copy_from_slice(&8u32.to_le_bytes());
        hello[8..12].copy_from_slice(&(self.ring.len() as u32).to_le_bytes());
        hello[12..16].copy_from_slice(&rkey.to_le_bytes());
        hello[16..24].copy_from_slice(&self.ring.addr().to_le_bytes());
        self.out.write(0, &hello);
        self.qp
            .post_send(SendWr {
                wr_id: 100,
                sge: Sge {
                    addr: self.out.addr(),
                    len: 32,
                    lkey: self.out.lkey(),
                },
                op: SendOp::Send,
                signaled: true,
            })
            .unwrap();
    }

    /// The server's HELLO: its ring's address and rkey.
    fn server_ring(&self) -> (u64, u32) {
        loop {
            let c = self.next_completion();
            assert_eq!(c.status, WcStatus::Success);
            if c.opcode == WcOpcode::Recv {
                let mut hello = [0u8; 32];
                self.inbox.read((c.wr_id * 32) as usize, &mut hello);
                assert_eq!(hello[0], 1, "the server speaks first with its HELLO");
                let rkey = u32::from_le_bytes(hello[12..16].try_into().unwrap());
                let addr = u64::from_le_bytes(hello[16..24].try_into().unwrap());
                return (addr, rkey);
            }
        }
    }

    fn write_request(&self, (addr, rkey): (u64, u32), request: &[u8]) {
        self.out.write(64, request);
        self.qp
            .post_send(SendWr {
                wr_id: 101,
                sge: Sge {
                    addr: self.out.addr() + 64,
                    len: request.len() as u32,
                    lkey: self.out.lkey(),
                },
                op: SendOp::WriteWithImm {
                    remote_addr: addr,
                    rkey,
                    imm: request.len() as u32,
                },
                signaled: true,
            })
            .unwrap();
    }

    fn wait_state(&self, state: QpState) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.qp.state() != state {
            assert!(
                Instant::now() < deadline,
                "queue pair stays {:?}",
                self.qp.state()
            );
            std::thread::yield_now();
        }
    }

    fn release(self) {
        let mut flushed = Vec::new();
        while self.qp.poll_cq(&mut flushed, 16) > 0 {}
        for region in [&self.out, &self.inbox, &self.ring] {
            self.qp.deregister(region).unwrap();
        }
    }
}

#[test]
fn a_reply_the_client_refused_with_a_remote_access_error_ends_that_connection_only() {
    let fabric = Fabric::new(13);
    let server = rdma_server(&fabric, ChannelConfig::default());
    let mut good = client(&fabric, server.addr());
    good.set("a", b"1");
    let raw = RawClient::connect(&fabric, server.addr(), true);
    let server_ring = raw.server_ring();
    // A wrong rkey: the server's reply to the request is refused by our NIC.
    raw.send_hello(raw.ring.rkey() ^ 0x55);
    raw.write_request(server_ring, b"get a\r\n");
    raw.wait_state(QpState::Disconnected);
    raw.release();
    wait_for_teardown(&fabric, 1);
    assert_eq!(
        good.get("a"),
        Some(b"1".to_vec()),
        "the other connection is served"
    );
    let mut again = client(&fabric, server.addr());
    assert_eq!(again.get("a"), Some(b"1".to_vec()), "and new ones too");
}

#[test]
fn a_client_that_never_posts_receives_exhausts_the_servers_retries_cleanly() {
    let fabric = Fabric::new(14);
    let server = rdma_server(
        &fabric,
        ChannelConfig {
            rnr_retry: 3,
            ..ChannelConfig::default()
        },
    );
    let raw = RawClient::connect(&fabric, server.addr(), false);
    // The server's HELLO finds no receive: after three retries its queue pair is in error.
    raw.wait_state(QpState::Disconnected);
    raw.release();
    wait_for_teardown(&fabric, 0);
    let mut tcp = Client::connect_tcp(server.addr());
    tcp.set("after", b"fine");
    let mut c = client(&fabric, server.addr());
    assert_eq!(c.get("after"), Some(b"fine".to_vec()));
}

#[test]
fn a_write_past_the_servers_free_ring_space_is_a_protocol_error_for_that_connection() {
    let fabric = Fabric::new(15);
    let server = rdma_server(&fabric, ChannelConfig::default());
    let raw = RawClient::connect(&fabric, server.addr(), true);
    let (addr, rkey) = raw.server_ring();
    raw.send_hello(raw.ring.rkey());
    // Claims far more bytes than the 64 KiB ring holds (the immediate is the length).
    raw.out.write(64, b"get x\r\n");
    raw.qp
        .post_send(SendWr {
            wr_id: 102,
            sge: Sge {
                addr: raw.out.addr() + 64,
                len: 7,
                lkey: raw.out.lkey(),
            },
            op: SendOp::WriteWithImm {
                remote_addr: addr,
                rkey,
                imm: 1 << 30,
            },
            signaled: true,
        })
        .unwrap();
    raw.wait_state(QpState::Disconnected);
    raw.release();
    wait_for_teardown(&fabric, 0);
    let mut c = client(&fabric, server.addr());
    c.exchange(b"mn\r\n", b"MN\r\n");
}

#[test]
fn without_rdma_verbs_the_rdma_listener_fails_and_tcp_serves() {
    let server = lzcache::start(Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 1,
        rdma_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        rdma: None,
        ..Config::default()
    })
    .expect("server starts");
    assert_eq!(server.rdma_addr(), None);
    Client::connect_tcp(server.addr()).exchange(b"mn\r\n", b"MN\r\n");
}

#[test]
fn an_rdma_address_in_use_fails_that_listener_only() {
    let fabric = Fabric::new(16);
    let first = rdma_server(&fabric, ChannelConfig::default());
    let provider: Arc<dyn Provider> = Arc::new(fabric.clone());
    let second = lzcache::start(Config {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        threads: 1,
        rdma_listen: first.rdma_addr(),
        rdma: Some(provider),
        ..Config::default()
    })
    .expect("server starts");
    assert_eq!(second.rdma_addr(), None);
    Client::connect_tcp(second.addr()).exchange(b"mn\r\n", b"MN\r\n");
}

/// The server binary built with NIC verbs, on a machine whose kernel has no RDMA stack (this
/// one): the RDMA listener fails with the probe's reason and TCP serves.
#[cfg(feature = "rdma")]
#[test]
fn the_binary_reports_a_missing_rdma_device_and_serves_tcp() {
    let has_devices =
        std::fs::read_dir("/sys/class/infiniband").is_ok_and(|mut d| d.next().is_some());
    let mut server = common::Binary::start(&["--rdma-listen", "127.0.0.1:0"]);
    Client::connect_tcp(server.addr()).exchange(b"mn\r\n", b"MN\r\n");
    if !has_devices {
        let line = server
            .wait_for_log(|line| line.contains("RDMA listener not started"))
            .unwrap_or_else(|log| panic!("no log line about the RDMA listener in {log:?}"));
        assert!(line.contains("no RDMA device"), "{line}");
    }
    server.stop_with("TERM");
}
